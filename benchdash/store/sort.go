package store

import (
	"slices"

	"github.com/ringwire/ringwire/benchdash/compare"
)

func sortDeltas(rows []DeltaRow) {
	slices.SortFunc(rows, func(a, b DeltaRow) int { return compare.CompareKeys(a.Key, b.Key) })
}

func sortUnits(u []string) {
	slices.SortFunc(u, func(a, b string) int {
		return compare.CompareKeys(compare.Key{Unit: a}, compare.Key{Unit: b})
	})
}
