module github.com/ringwire/ringwire/protocol

go 1.26
