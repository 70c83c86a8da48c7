package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/tend-sh/tend/executor/plan"
	"github.com/tend-sh/tend/executor/report"
	"github.com/tend-sh/tend/executor/run"
)

// execute prepares and runs a plan or apply and maps the result to an exit
// code.
func (g *globalFlags) execute(cmd *cobra.Command, files []string, mode run.Mode) error {
	var sources []plan.Source
	if mode == run.ModePlan && g.planOut != "" {
		if data, err := os.ReadFile(g.planOut); err == nil && !plan.Is(data) {
			return exitWith(ExitInvalid, "--out %s: the file exists and is not a saved plan: tend does not overwrite it", g.planOut)
		}
		key, err := plan.LoadKey(true)
		if err != nil {
			return exitWith(ExitInvalid, "--out: %v", err)
		}
		// The sources are digested as they are read, before the plan.
		if sources, err = plan.Sources(files, g.planOut); err != nil {
			return exitWith(ExitInvalid, "--out: the playbook: %v", err)
		}
		g.saved = &run.SavedPlan{Key: key, Nonce: plan.NewNonce()}
	}
	p, err := g.prepare(cmd, files, mode)
	if err != nil {
		return err
	}
	r := p.run
	if g.shard != nil && len(r.Hosts()) == 0 {
		fmt.Fprintf(cmd.ErrOrStderr(), "tend: no hosts in shard %s (of %d selected hosts): nothing to do\n", g.shard, p.selected)
		if !g.json {
			return nil
		}
		// The JSON stream still starts and ends, for tend report merge.
	}
	dial, err := g.dialer(cmd, r.Hosts(), p.becoming, p.ssh)
	if err != nil {
		return err
	}
	boundMemory(g.forks)
	r.SetDialer(dial)
	sink, done := g.runSink(cmd.OutOrStdout())
	r.SetSink(g.identified(sink, files))
	res := r.Execute(cmd.Context())
	done()
	if mode == run.ModePlan && g.planOut != "" {
		if err := g.savePlan(files, sources, r, res); err != nil {
			return exitWith(ExitInternal, "--out %s: %v", g.planOut, err)
		}
		fmt.Fprintf(cmd.ErrOrStderr(), "Saved the plan to %s: review it with `tend show %s`, apply exactly it with `tend apply %s`.\n", g.planOut, g.planOut, g.planOut)
	}
	return resultError(res)
}

// identified adds to the run_start event what the run ran (digests of
// the playbook's and inventory's files) and its shard.
func (g *globalFlags) identified(sink report.Sink, files []string) report.Sink {
	id := &report.RunID{Playbook: sourcesDigest(files...)}
	if g.inventory != "" {
		id.Inventory = sourcesDigest(g.inventory)
	}
	if g.shard != nil {
		id.Shard = g.shard.String()
	}
	return report.SinkFunc(func(e report.Event) {
		if e.Type == report.EventRunStart {
			e.Run = id
		}
		sink.Emit(e)
	})
}

// sourcesDigest is the SHA-256 of the contents of the files paths stand for
// (as plan.Sources reads them), in path order, or "" if one cannot be
// read. Paths do not count: shards run from different checkouts agree.
func sourcesDigest(paths ...string) string {
	srcs, err := plan.Sources(paths)
	if err != nil {
		return ""
	}
	h := sha256.New()
	for _, s := range srcs {
		fmt.Fprintln(h, s.SHA256)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// savePlan writes the plan of r (its result res) to --out, sealed.
func (g *globalFlags) savePlan(files []string, sources []plan.Source, r *run.Run, res run.Result) error {
	key := g.saved.Key
	f := &plan.File{Tend: planVersion(), Created: time.Now().UTC(), Limit: g.limit, KeyID: key.ID(), Nonce: g.saved.Nonce, Playbook: sources, Hosts: r.Planned(res)}
	for _, p := range files {
		abs, err := filepath.Abs(p)
		if err != nil {
			return err
		}
		f.PlaybookArgs = append(f.PlaybookArgs, abs)
	}
	var err error
	if g.inventory != "" {
		if f.InventoryArg, err = filepath.Abs(g.inventory); err != nil {
			return err
		}
		if f.Inventory, err = plan.Sources([]string{f.InventoryArg}); err != nil {
			return err
		}
	}
	if f.Inputs, err = g.inputsMAC(key, f.Nonce); err != nil {
		return err
	}
	if err := f.Seal(key); err != nil {
		return err
	}
	return f.Write(g.planOut)
}

// inputsMAC is the HMAC under key of the variables given to this run:
// --var values, the contents of --var-file files, TEND_VAR_* values.
func (g *globalFlags) inputsMAC(key plan.Key, nonce string) (string, error) {
	in, err := g.inputs()
	if err != nil {
		return "", err
	}
	var c struct {
		Nonce      string
		Env, Flags map[string]string
		Files      []string
	}
	c.Nonce, c.Env, c.Flags = nonce, in.Env, in.Flags
	for _, f := range in.Files {
		data, err := os.ReadFile(f)
		if err != nil {
			return "", err
		}
		sum := sha256.Sum256(data)
		c.Files = append(c.Files, hex.EncodeToString(sum[:]))
	}
	data, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	return key.Fingerprint(data), nil
}

// useSavedPlan makes apply apply the saved plan at path: it checks that
// this tend, the controller key and the plan's sources are the ones it was
// made with, takes its inventory and limit, and returns its playbook
// arguments.
func (g *globalFlags) useSavedPlan(path string) ([]string, error) {
	f, err := plan.Read(path)
	if err != nil {
		return nil, exitWith(ExitInvalid, "%v", err)
	}
	if g.inventory != "" || len(g.limit) > 0 || g.shardFlag != "" {
		return nil, exitWith(ExitInvalid, "%s is a saved plan: it names its inventory and hosts; apply it without -i, --limit and --shard", path)
	}
	if v := planVersion(); v != f.Tend {
		return nil, exitWith(ExitInvalid, "%s was made by tend %s; this is tend %s: make a new plan", path, f.Tend, v)
	}
	key, err := plan.LoadKey(false)
	if err != nil {
		return nil, exitWith(ExitInvalid, "%s: %v (a saved plan is applied on the controller that made it, or with its key in TEND_PLAN_KEY_FILE)", path, err)
	}
	if key.ID() != f.KeyID {
		return nil, exitWith(ExitInvalid, "%s was made with another controller key (%s, this one is %s): apply it where it was made, or with its key in TEND_PLAN_KEY_FILE", path, f.KeyID, key.ID())
	}
	if !f.Verify(key) {
		return nil, exitWith(ExitInvalid, "%s was changed after it was made (its MAC does not match): make a new plan", path)
	}
	if mac, err := g.inputsMAC(key, f.Nonce); err != nil || mac != f.Inputs {
		return nil, exitWith(ExitInvalid, "%s was made with other variables: give apply the same --var, --var-file and TEND_VAR_* values as the plan", path)
	}
	if err := plan.CheckSources(f.Playbook, "playbook"); err != nil {
		return nil, exitWith(ExitInvalid, "%s: %v: make a new plan", path, err)
	}
	if err := plan.CheckSources(f.Inventory, "inventory"); err != nil {
		return nil, exitWith(ExitInvalid, "%s: %v: make a new plan", path, err)
	}
	now, err := plan.Sources(f.PlaybookArgs, path)
	if err != nil {
		return nil, exitWith(ExitInvalid, "%s: the playbook: %v: make a new plan", path, err)
	}
	if added := newSources(f.Playbook, now); added != "" {
		return nil, exitWith(ExitInvalid, "%s: the playbook has a file the plan was not made from, %s: make a new plan", path, added)
	}
	g.inventory = f.InventoryArg
	for _, h := range f.Hosts {
		// Exact host names: a pattern could also match a group.
		g.limit = append(g.limit, h.Name)
	}
	if len(g.limit) == 0 {
		return nil, exitWith(ExitInvalid, "%s plans no host", path)
	}
	g.saved = &run.SavedPlan{Key: key, Apply: f}
	return f.PlaybookArgs, nil
}

// newSources names a file of now that saved does not have, or "".
func newSources(saved, now []plan.Source) string {
	had := map[string]bool{}
	for _, s := range saved {
		had[s.Path] = true
	}
	for _, s := range now {
		if !had[s.Path] {
			return s.Path
		}
	}
	return ""
}
