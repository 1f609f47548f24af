module github.com/ringwire/ringwire/integration

go 1.26.0

require (
	github.com/jackc/puddle/v2 v2.2.3 // indirect
	golang.org/x/perf v0.0.0-20260908200009-22c9c6c9d4da // indirect
	golang.org/x/sync v0.1.0 // indirect
)
