package compare

// Geomeans computes the geometric mean of the centers per unit over the rows
// that ran on both sides with positive centers, in the order units appear.
func Geomeans(rows []Row) []Geomean { return geomeans(rows) }
