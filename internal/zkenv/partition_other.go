//go:build !linux

package zkenv

import (
	"context"
	"errors"
	"fmt"
	"syscall"
)

// PartitionsAvailable reports why members cannot be partitioned here: they need Linux's
// nftables.
func PartitionsAvailable() error { return errors.New("a partition needs Linux (nftables)") }

func (e *Ensemble) credential(*Member, *syscall.SysProcAttr) {}

func (e *Ensemble) setupPartitions(context.Context) error {
	return fmt.Errorf("zkenv: %w", PartitionsAvailable())
}

// PartitionMember is not available here.
func (e *Ensemble) PartitionMember(context.Context, int) error {
	return fmt.Errorf("zkenv: %w", PartitionsAvailable())
}

// HealMember is not available here.
func (e *Ensemble) HealMember(context.Context, int) error {
	return fmt.Errorf("zkenv: %w", PartitionsAvailable())
}

func (e *Ensemble) closePartitions() {}
