package cli

import (
	"fmt"
	"strconv"
)

func fmtSscan(s string, v *float64) (int, error) { return fmt.Sscan(s, v) }

func fmtFloat(v float64) string { return strconv.FormatFloat(v, 'f', 4, 64) }
