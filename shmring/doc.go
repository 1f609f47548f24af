// Package shmring will provide single-producer single-consumer byte rings in sealed shared memory, with Listen and Dial over a Unix socket. Not yet implemented.
package shmring
