module github.com/ringwire/ringwire/daemon

go 1.26
