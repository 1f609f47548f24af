module github.com/ringwire/ringwire/pool

go 1.26
