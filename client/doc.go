// Package client will provide the ringwire RPC client. Not yet implemented.
package client
