module github.com/ringwire/ringwire/protocol

go 1.26

require (
	github.com/google/flatbuffers v25.12.19+incompatible
	github.com/klauspost/compress v1.20.4
	go.uber.org/goleak v1.3.0
)
