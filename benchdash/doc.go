// Package benchdash will provide the benchmark store, comparisons and dashboard. Not yet implemented.
package benchdash
