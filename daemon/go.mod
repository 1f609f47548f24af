module github.com/ringwire/ringwire/daemon

go 1.26.0

require (
	github.com/ringwire/ringwire/client v0.0.0
	github.com/ringwire/ringwire/protocol v0.0.0
	github.com/ringwire/ringwire/shmring v0.0.0
	go.uber.org/goleak v1.3.0
)

require (
	github.com/google/flatbuffers v25.12.19+incompatible // indirect
	github.com/klauspost/compress v1.20.4 // indirect
	github.com/ringwire/ringwire/pool v0.0.0 // indirect
	golang.org/x/sys v0.50.0 // indirect
)

replace (
	github.com/ringwire/ringwire/client => ../client
	github.com/ringwire/ringwire/pool => ../pool
	github.com/ringwire/ringwire/protocol => ../protocol
	github.com/ringwire/ringwire/shmring => ../shmring
)
