module github.com/ringwire/ringwire/integration

go 1.26.0

require (
	github.com/jackc/puddle/v2 v2.2.3
	github.com/ringwire/ringwire/pool v0.0.0
	go.uber.org/goleak v1.3.0
	golang.org/x/perf v0.0.0-20260908200009-22c9c6c9d4da
)

require (
	github.com/aclements/go-moremath v0.0.0-20210112150236-f10218a38794 // indirect
	golang.org/x/sync v0.1.0 // indirect
)

replace github.com/ringwire/ringwire/pool => ../pool
