package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ringwire/ringwire/benchdash/store"
)

// BaselinesFile is the file in the results directory that records which
// results file each baseline is, so that rebuild restores baselines.
const BaselinesFile = "baselines.json"

type baselineRecord struct {
	Machine string `json:"machine"`
	Name    string `json:"name"`
	Source  string `json:"source"` // results file name
	Hash    string `json:"hash"`   // sha256 of its content
}

func writeBaselines(ctx context.Context, st *store.Store, dir string) error {
	bs, err := st.Baselines(ctx)
	if err != nil {
		return err
	}
	recs := []baselineRecord{}
	for _, b := range bs {
		r, err := st.GetRun(ctx, b.RunID)
		if err != nil {
			return err
		}
		recs = append(recs, baselineRecord{Machine: b.Machine, Name: b.Name, Source: r.Source, Hash: r.Hash})
	}
	data, err := json.MarshalIndent(map[string]any{"baselines": recs}, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, "."+BaselinesFile+".tmp")
	if err := os.WriteFile(tmp, append(data, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, BaselinesFile))
}

func readBaselines(dir string) ([]baselineRecord, error) {
	data, err := os.ReadFile(filepath.Join(dir, BaselinesFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var v struct {
		Baselines []baselineRecord `json:"baselines"`
	}
	if err := json.Unmarshal(data, &v); err != nil {
		return nil, fmt.Errorf("%s: %w", BaselinesFile, err)
	}
	return v.Baselines, nil
}
