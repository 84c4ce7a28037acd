package rundir

import (
	"encoding/json"
	"fmt"
	"os"
)

// RunInfo is run.json (and a worker's worker_<tag>.json): how the run was made.
type RunInfo struct {
	Command  []string          `json:"command"`
	Start    string            `json:"start"`
	End      string            `json:"end"`
	Settings map[string]string `json:"settings"`
	Versions map[string]string `json:"versions"`
	Ensemble string            `json:"ensemble"`
	Tests    []string          `json:"tests"`
	NodeID   string            `json:"node_id,omitempty"`
	Exit     *int              `json:"exit_code,omitempty"`
}

// Write writes the file whole (through a temporary file), so that a reader never sees
// half of it.
func (ri *RunInfo) Write(path string) error {
	b, err := json.MarshalIndent(ri, "", "  ")
	if err != nil {
		return fmt.Errorf("run information: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// ReadRunInfo reads a run.json.
func ReadRunInfo(path string) (*RunInfo, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var ri RunInfo
	if err := json.Unmarshal(b, &ri); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &ri, nil
}
