module wakeprobe/goping

go 1.26
