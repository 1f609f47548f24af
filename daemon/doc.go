// Package daemon will provide ringwired, the ringwire daemon. Not yet implemented.
package daemon
