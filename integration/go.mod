module github.com/ringwire/ringwire/integration

go 1.26
