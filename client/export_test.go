package client

// StartFakeDaemon starts the fake daemon for the examples and returns its
// socket path and a stop function.
func StartFakeDaemon() (string, func()) {
	d, err := startFakeDaemon(false)
	if err != nil {
		panic(err)
	}
	return d.path, d.remove
}
