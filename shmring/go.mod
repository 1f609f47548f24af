module github.com/ringwire/ringwire/shmring

go 1.26
