// Package integration will hold ringwire's end-to-end test suites. Not yet implemented.
package integration
