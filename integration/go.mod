module github.com/ringwire/ringwire/integration

go 1.26.0

require (
	github.com/jackc/puddle/v2 v2.2.3
	github.com/ringwire/ringwire/client v0.0.0
	github.com/ringwire/ringwire/daemon v0.0.0
	github.com/ringwire/ringwire/pool v0.0.0
	github.com/ringwire/ringwire/protocol v0.0.0
	go.uber.org/goleak v1.3.0
	golang.org/x/perf v0.0.0-20260908200009-22c9c6c9d4da
)

require (
	github.com/aclements/go-moremath v0.0.0-20210112150236-f10218a38794 // indirect
	github.com/google/flatbuffers v25.12.19+incompatible // indirect
	github.com/klauspost/compress v1.20.4 // indirect
	github.com/ringwire/ringwire/shmring v0.0.0 // indirect
	golang.org/x/sync v0.1.0 // indirect
	golang.org/x/sys v0.50.0 // indirect
)

replace (
	github.com/ringwire/ringwire/client => ../client
	github.com/ringwire/ringwire/daemon => ../daemon
	github.com/ringwire/ringwire/pool => ../pool
	github.com/ringwire/ringwire/protocol => ../protocol
	github.com/ringwire/ringwire/shmring => ../shmring
)
