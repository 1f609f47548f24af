module wakeprobe/goecho

go 1.26
