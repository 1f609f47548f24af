module github.com/ringwire/ringwire/client

go 1.26
