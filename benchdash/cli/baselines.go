package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/ringwire/ringwire/benchdash/store"
)

// BaselinesFile is the file in the committed results directory that records
// each machine's saved baselines, so that rebuild restores them and bench
// finds a machine's baseline commit in a fresh clone. Only save writes it,
// and it keeps every other machine's records.
const BaselinesFile = "baselines.json"

type baselineRecord struct {
	Machine string `json:"machine"`
	Name    string `json:"name"`
	Source  string `json:"source"`           // results file name
	Hash    string `json:"hash"`             // sha256 of its content
	Commit  string `json:"commit,omitempty"` // the commit the run measured
	Saved   string `json:"saved,omitempty"`  // when save recorded it (RFC 3339)
}

// recordBaseline copies run's results file from runs into results (unless
// it is there) and records it in results/baselines.json as machine's
// baseline name, replacing only that machine's record of that name.
func recordBaseline(run *store.Run, name, runs, results string) error {
	dst := filepath.Join(results, run.Source)
	if _, err := os.Stat(dst); errors.Is(err, os.ErrNotExist) {
		data, err := os.ReadFile(filepath.Join(runs, run.Source))
		if err != nil {
			return fmt.Errorf("results file of run %d: %w", run.ID, err)
		}
		if err := os.WriteFile(dst, data, 0o644); err != nil {
			return err
		}
	}
	recs, err := readBaselines(results)
	if err != nil {
		return err
	}
	rec := baselineRecord{Machine: run.Machine, Name: name, Source: run.Source, Hash: run.Hash, Commit: run.Commit, Saved: time.Now().UTC().Format(time.RFC3339)}
	replaced := false
	for i, r := range recs {
		if r.Machine == rec.Machine && r.Name == rec.Name {
			recs[i], replaced = rec, true
		}
	}
	if !replaced {
		recs = append(recs, rec)
	}
	data, err := json.MarshalIndent(map[string]any{"baselines": recs}, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(results, "."+BaselinesFile+".tmp")
	if err := os.WriteFile(tmp, append(data, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(results, BaselinesFile))
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
