// Package pool will provide a generic resource pool. Not yet implemented.
package pool
