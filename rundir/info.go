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
	// Control is what the load controller found or did (nil: none ran).
	Control *ControlResult `json:"control,omitempty"`
}

// ControlResult is a load controller's outcome, as run.json keeps it.
type ControlResult struct {
	Mode string `json:"mode"` // seek, hold, shape, stages or watchdog
	Unit string `json:"unit"` // rate (operations/s) or users
	Spec string `json:"spec"` // the constraints, setpoint, program or rules as given
	// A seek's: the capacity (0: no level passed), the bracket of the knee (Hi 0: no
	// level failed) and its relative width, and the rate achieved at the capacity.
	Capacity  float64 `json:"capacity,omitempty"`
	Lo        float64 `json:"lo,omitempty"`
	Hi        float64 `json:"hi,omitempty"`
	Precision float64 `json:"precision,omitempty"`
	Achieved  float64 `json:"achieved,omitempty"`
	// Done says whether the controller finished (a seek found its bracket, a program
	// ended); Reason how it ended or where it was when the test did.
	Done   bool   `json:"done"`
	Reason string `json:"reason,omitempty"`
	// Verdict is the watchdog's, when it stopped the test (exit code 3).
	Verdict string `json:"verdict,omitempty"`
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
