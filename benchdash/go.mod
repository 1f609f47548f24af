module github.com/ringwire/ringwire/benchdash

go 1.26
