module github.com/ringwire/ringwire/integration

go 1.26.0

require (
	github.com/HdrHistogram/hdrhistogram-go v1.4.0
	github.com/jackc/puddle/v2 v2.2.3
	github.com/ringwire/ringwire/client v0.0.0
	github.com/ringwire/ringwire/daemon v0.0.0
	github.com/ringwire/ringwire/pool v0.0.0
	github.com/ringwire/ringwire/protocol v0.0.0
	go.uber.org/goleak v1.3.0
	golang.org/x/perf v0.0.0-20260908200009-22c9c6c9d4da
	golang.org/x/sys v0.50.0
)

require (
	github.com/aclements/go-moremath v0.0.0-20210112150236-f10218a38794 // indirect
	github.com/beorn7/perks v1.0.1 // indirect
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/google/flatbuffers v25.12.19+incompatible // indirect
	github.com/klauspost/compress v1.20.4 // indirect
	github.com/munnerz/goautoneg v0.0.0-20191010083416-a7dc8b61c822 // indirect
	github.com/pandatix/go-abnf v0.5.3 // indirect
	github.com/pelletier/go-toml/v2 v2.4.3 // indirect
	github.com/prometheus/client_golang v1.25.0 // indirect
	github.com/prometheus/client_model v0.6.3 // indirect
	github.com/prometheus/common v0.73.1 // indirect
	github.com/prometheus/procfs v0.22.0 // indirect
	github.com/ringwire/ringwire/shmring v0.0.0 // indirect
	golang.org/x/sync v0.22.0 // indirect
	google.golang.org/protobuf v1.36.12 // indirect
)

replace (
	github.com/ringwire/ringwire/client => ../client
	github.com/ringwire/ringwire/daemon => ../daemon
	github.com/ringwire/ringwire/pool => ../pool
	github.com/ringwire/ringwire/protocol => ../protocol
	github.com/ringwire/ringwire/shmring => ../shmring
)
