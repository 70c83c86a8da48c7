package main

import (
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/tend-sh/tend/executor/sshtest"
)

// The corpus of broken inputs: realistic mistakes, one per file under
// testdata/broken, each with a comment at its top saying what is wrong.
//
//   - playbook/*.hcl: one mistake in a playbook, checked against the valid
//     inventory fleet.hcl, and on its own (validate without -i).
//   - inventory/*.hcl: one mistake in an inventory, checked with the valid
//     playbook site.hcl.
//     inventory/ansible_*: the same for Ansible INI and YAML inventories;
//     these cannot read TEND_CORPUS_PORT, so their hosts' port is not the
//     server's and the connection count cannot tell whether one was tried.
//   - flag cases: site.hcl and fleet.hcl with a wrong flag, variable file
//     (flags/*.vars.hcl) or TEND_VAR_ variable.
//
// Every inventory's hosts are 127.0.0.1 at port TEND_CORPUS_PORT: the test's
// in-process SSH server, which counts the connections it accepts.
const brokenDir = "testdata/broken"

// brokenCase is one broken input and what tend must say about it.
type brokenCase struct {
	// file is the case's file under testdata/broken ("playbook/x.hcl",
	// "inventory/x.hcl"); for flag cases, a name ("flags:...").
	file string
	// in is the file the diagnostic points into when it is not file (a
	// template, a variable file), relative to testdata/broken.
	in string
	// at is the expected "line:col" of the diagnostic; "" for flag
	// mistakes, which have no place in a file.
	at string
	// phrase must appear on stderr (for a gap, stdout will do); not must
	// not (a misleading diagnostic that used to come with the right one).
	phrase, not string
	// errs is how many errors are printed when there is a place (at): 1
	// when 0. More only where HCL's parser goes on past a syntax error,
	// or the file repeats its one mistake.
	errs int
	// args are extra command-line arguments; env extra environment.
	args []string
	env  map[string]string
	// withInventoryOnly marks mistakes that exist only relative to an
	// inventory (a host var, the plays' hosts): validate without -i does
	// not report them, by design (README, "Commands and flags").
	withInventoryOnly bool
	// gap, when set, says what is wrong with tend's current answer: the
	// case then asserts the current behaviour (the exit codes gapExits of
	// validate -i, plan -i and validate without -i; at and phrase as they
	// are today) and the test reports it.
	gap      string
	gapExits []int
	// gapConnects: the gap is not refused at all, and plan goes on to
	// connect (here, to be refused for the server's unknown host key).
	gapConnects bool
}

// kind is "playbook", "inventory" or "flags".
func (c brokenCase) kind() string {
	k, _, _ := strings.Cut(c.file, "/")
	k, _, _ = strings.Cut(k, ":")
	return k
}

// location is the "file:line:col" expected on stderr, or "".
func (c brokenCase) location() string {
	if c.at == "" {
		return ""
	}
	in := c.file
	if c.in != "" {
		in = c.in
	}
	return filepath.Join(brokenDir, in) + ":" + c.at
}

var brokenCorpus = []brokenCase{
	// Playbook syntax.
	{file: "playbook/syntax_unclosed_play.hcl", at: "2:13", phrase: "Unclosed configuration block"},
	{file: "playbook/syntax_unterminated_string.hcl", at: "6:31", phrase: "Unterminated template string", errs: 5},
	{file: "playbook/syntax_single_quotes.hcl", at: "6:15", phrase: "Invalid character", errs: 2},
	{file: "playbook/syntax_heredoc_unterminated.hcl", at: "6:15", phrase: "The heredoc <<-EOT opened here is never closed: it ends with a line that holds only EOT"},
	{file: "playbook/syntax_stray_token.hcl", at: "6:33", phrase: "Missing newline after argument"},
	{file: "playbook/syntax_colon_assignment.hcl", at: "6:5", phrase: "Argument or block definition required"},
	{file: "playbook/syntax_unclosed_interpolation.hcl", at: "8:16", phrase: "Unclosed template interpolation sequence", errs: 6},
	{file: "playbook/syntax_bad_escape.hcl", at: "6:26", phrase: "Invalid escape sequence"},
	{file: "playbook/syntax_yaml_list.hcl", at: "2:1", phrase: "Argument or block definition required"},

	// Blocks, plays, module kinds, handlers, variables.
	{file: "playbook/block_unknown_toplevel.hcl", at: "6:1", phrase: `Blocks of type "task" are not expected here`},
	{file: "playbook/play_hosts_misspelt.hcl", at: "3:3", phrase: `Did you mean "hosts"?`, not: "needs hosts"},
	{file: "playbook/play_become_yes.hcl", at: "4:12", phrase: "become must be true or false"},
	{file: "playbook/play_hosts_unknown_group.hcl", at: "4:12", phrase: `host pattern "webservers" matches no host or group`, withInventoryOnly: true},
	{file: "playbook/module_unknown_fiel.hcl", at: "5:3", phrase: `There is no module kind "fiel". Did you mean "file"?`},
	{file: "playbook/module_unknown_healthcheck.hcl", at: "5:3", phrase: `Did you mean "health_check"?`},
	{file: "playbook/module_unknown_template.hcl", at: "5:3", phrase: `There is no module kind "template".`},
	{file: "playbook/handler_two_modules.hcl", at: "12:5", phrase: `Handler "reload-web" must hold exactly one module block`, not: "Unknown handler"},
	{file: "playbook/handler_meta_argument.hcl", at: "13:7", phrase: "cannot use the meta-argument when"},
	{file: "playbook/variable_attr_misspelt.hcl", at: "3:3", phrase: `Did you mean "default"?`, not: "has no default"},
	{file: "playbook/variable_default_wrong_type.hcl", at: "4:13", phrase: "does not match its type: a number is required", not: "has no default"},

	// Misspelt attributes, in every module kind.
	{file: "playbook/file_attr_onwer.hcl", at: "7:5", phrase: `Did you mean "owner"?`},
	{file: "playbook/directory_attr_recurse.hcl", at: "7:5", phrase: `An argument named "recurse" is not expected here.`},
	{file: "playbook/systemd_unit_attr_enable.hcl", at: "12:5", phrase: `Did you mean "enabled"?`},
	{file: "playbook/systemd_unit_block_capitalised.hcl", at: "6:5", phrase: `Did you mean "service"?`},
	{file: "playbook/gunicorn_attr_worker.hcl", at: "9:5", phrase: `Did you mean "workers"?`},
	{file: "playbook/service_attr_status.hcl", at: "6:5", phrase: `Did you mean "state"?`},
	{file: "playbook/command_attr_cmd.hcl", at: "6:5", phrase: `An argument named "cmd" is not expected here.`},
	{file: "playbook/command_attr_create.hcl", at: "7:5", phrase: `Did you mean "creates"?`},
	{file: "playbook/health_check_attr_expected_status.hcl", at: "7:5", phrase: `Did you mean "expect_status"?`},

	// Wrong types.
	{file: "playbook/type_file_mode_number.hcl", at: "7:5", phrase: `Write mode = "0644".`},
	{file: "playbook/type_directory_mode_octal_number.hcl", at: "7:5", phrase: `Write mode = "0755".`},
	{file: "playbook/type_gunicorn_workers_string.hcl", at: "9:5", phrase: `workers must be a number of worker processes or "auto"`},
	{file: "playbook/type_gunicorn_bind_number.hcl", at: "8:5", phrase: `bind = 42 is a number; an address is a string: write bind = "127.0.0.1:42"`},
	{file: "playbook/type_gunicorn_timeout_words.hcl", at: "9:17", phrase: "a number is required"},
	{file: "playbook/type_systemd_unit_enabled_yes.hcl", at: "12:16", phrase: "a bool is required"},
	{file: "playbook/type_health_check_timeout_number.hcl", at: "7:5", phrase: `"5" is not a duration`},
	{file: "playbook/type_command_environment_list.hcl", at: "7:5", phrase: "a map of strings is required"},

	// Invalid values.
	{file: "playbook/value_file_mode_0999.hcl", at: "7:5", phrase: `"0999" is not an octal file mode`},
	{file: "playbook/value_file_relative_path.hcl", at: "5:8", phrase: `"etc/app/app.conf" is not an absolute path`},
	{file: "playbook/value_file_path_directory.hcl", at: "6:5", phrase: `such as "/etc/nginx/conf.d/app.conf"`},
	{file: "playbook/value_file_state_deleted.hcl", at: "6:5", phrase: `state must be "present" or "absent", not "deleted".`, not: "Missing file content"},
	{file: "playbook/value_systemd_unit_bad_name.hcl", at: "5:16", phrase: "is not a valid systemd unit name"},
	{file: "playbook/value_systemd_unit_suffix_typo.hcl", at: "5:16", phrase: `write "app.service", or "app.servcie.service"`},
	{file: "playbook/value_systemd_unit_settle_soon.hcl", at: "10:5", phrase: `"soon" is not a duration`},
	{file: "playbook/value_systemd_unit_drop_ins_maybe.hcl", at: "9:5", phrase: `not "maybe"`},
	{file: "playbook/value_gunicorn_bind_nowhere.hcl", at: "8:5", phrase: `bind "nowhere" is not an address`},
	{file: "playbook/value_gunicorn_workers_zero.hcl", at: "9:5", phrase: "from 1 to 1024"},
	{file: "playbook/value_gunicorn_app_no_callable.hcl", at: "7:5", phrase: "is not a WSGI application reference"},
	{file: "playbook/value_gunicorn_restart_sometimes.hcl", at: "9:5", phrase: `not "sometimes"`},
	{file: "playbook/value_service_state_running.hcl", at: "6:5", phrase: `not "running"`},
	{file: "playbook/value_service_nothing.hcl", at: "5:19", phrase: "A service task needs state, enabled or both."},
	{file: "playbook/value_command_timeout_forever.hcl", at: "7:5", phrase: `"forever" is not a duration`},
	{file: "playbook/value_health_check_url_no_scheme.hcl", at: "6:5", phrase: "is not an http:// or https:// URL"},
	{file: "playbook/value_health_check_status_999.hcl", at: "7:5", phrase: "999 is not an HTTP status code."},
	{file: "playbook/value_health_check_retries_negative.hcl", at: "7:5", phrase: "0 to 100, not -1"},
	{file: "playbook/value_health_check_delay_1x.hcl", at: "7:5", phrase: `"1x" is not a duration`},

	// Missing and conflicting attributes.
	{file: "playbook/required_gunicorn_app.hcl", at: "5:32", phrase: `The argument "app" is required`},
	{file: "playbook/required_command_run.hcl", at: "5:21", phrase: `The argument "run" is required`},
	{file: "playbook/required_file_content.hcl", at: "5:28", phrase: "A file needs exactly one of content, source or template."},
	{file: "playbook/required_health_check_target.hcl", at: "5:22", phrase: "A health_check needs url, unix_socket and path, or unit and expect_processes."},
	{file: "playbook/conflict_file_content_source.hcl", at: "7:5", phrase: "not both content and source"},
	{file: "playbook/conflict_systemd_unit_content_blocks.hcl", at: "6:5", phrase: "Give either content or unit/service/install blocks, not both."},
	{file: "playbook/conflict_file_absent_with_content.hcl", at: "7:5", phrase: `content has no meaning with state = "absent"`},

	// Local files: sources, templates.
	{file: "playbook/missing_source_file.hcl", at: "6:5", phrase: "Cannot read source"},
	{file: "playbook/missing_template_file.hcl", at: "6:5", phrase: "Cannot read template"},
	{file: "playbook/missing_file_function.hcl", at: "6:15", phrase: `Call to function "file" failed`},
	{file: "playbook/template_unclosed_interpolation.hcl", in: "playbook/templates/site_unclosed_interp.tpl", at: "4:34", phrase: "Extra characters after interpolation expression", errs: 2},
	{file: "playbook/template_undeclared_var.hcl", in: "playbook/templates/site_undeclared_var.tpl", at: "3:17", phrase: `There is no variable named "server_name".`},
	{file: "playbook/template_jinja_syntax.hcl", in: "playbook/templates/site_jinja.tpl", gapExits: []int{ExitOK, ExitUnreachable, ExitOK}, gapConnects: true,
		gap: "Jinja syntax in a template ({{ sock }}) is not HCL's: it is rendered as it is, and nothing says so (a warning at the template would)"},
	{file: "playbook/templatefile_missing_var.hcl", at: "6:15", phrase: `vars has no key "server_name"`},

	// References.
	{file: "playbook/ref_unknown_variable.hcl", at: "8:15", phrase: `Did you mean "app_dir"?`},
	{file: "playbook/ref_unknown_local.hcl", at: "10:19", phrase: `Did you mean "sock"?`},
	{file: "playbook/ref_host_var_missing.hcl", at: "10:16", phrase: `The host has no variable "gunicorn_workers" (it has workers).`, withInventoryOnly: true},
	{file: "playbook/ref_host_var_singular.hcl", at: "6:18", phrase: `Did you mean "vars"?`},
	{file: "playbook/ref_host_fact_misspelt.hcl", at: "7:15", phrase: `host.facts has no fact "os". Did you mean "os_id"?`},
	{file: "playbook/ignore_errors_yes.hcl", at: "7:21", phrase: `ignore_errors must be the constant true or false.`},
	{file: "playbook/changed_when_result_stdot.hcl", at: "7:39", phrase: `does not have an attribute named "stdot"`},
	{file: "playbook/ref_each_without_for_each.hcl", at: "6:20", phrase: `Reference to "each" in context without for_each`},
	{file: "playbook/ref_unknown_function.hcl", at: "8:26", phrase: `Did you mean "length"?`},

	// for_each, when, notify, duplicates.
	{file: "playbook/for_each_list.hcl", at: "6:16", phrase: "convert a list of strings with toset(...)"},
	{file: "playbook/for_each_string.hcl", at: "6:16", phrase: "for_each needs a map or a set of strings, not string."},
	{file: "playbook/for_each_each_typo.hcl", at: "7:79", phrase: `The each object has only key and value, not "name".`},
	{file: "playbook/for_each_empty_hides_mistake.hcl", at: "11:5", phrase: `bind "localhost" is not an address`},
	{file: "playbook/when_string_yes.hcl", at: "7:15", phrase: "The when condition must be a bool"},
	{file: "playbook/when_assignment.hcl", at: "7:25", phrase: "Missing newline after argument"},
	{file: "playbook/when_false_hides_mistake.hcl", at: "7:5", phrase: `"0x644" is not an octal file mode`},
	{file: "playbook/when_literal_false_hides_mistake.hcl", at: "7:5", phrase: `Did you mean "enabled"?`},
	{file: "playbook/notify_unknown_handler.hcl", at: "7:16", phrase: `notifies "restart-nginx", which is not a handler of play "site". Its handlers are: reload-nginx.`},
	{file: "playbook/notify_reference.hcl", at: "7:16", phrase: "notify must list handler names as constant strings"},
	{file: "playbook/notify_invalid_handler.hcl", at: "11:5", phrase: `There is no module kind "servcie". Did you mean "service"?`, not: "Unknown handler"},
	{file: "playbook/duplicate_task.hcl", at: "8:3", phrase: "The play already has a task file./etc/motd"},
	{file: "playbook/duplicate_handler.hcl", at: "13:3", phrase: `already has a handler "reload-nginx"`},
	{file: "playbook/rollout_attr_canery.hcl", at: "5:5", phrase: `An argument named "canery" is not expected in a rollout block. Did you mean "canary"?`},
	{file: "playbook/rollout_batch_zero.hcl", at: "6:14", phrase: "batch: a batch of 0 hosts would never finish."},
	{file: "playbook/rollout_max_failures_fraction.hcl", at: "6:20", phrase: "max_failures is a number of hosts or a share of them"},
	{file: "playbook/restart_drill_no_health_check.hcl", at: "6:3", phrase: `refuse: play "site" has no health_check`},
	{file: "playbook/restart_drill_no_restart.hcl", at: "6:3", phrase: "refuse: no restart policy: task gunicorn_service.staffrota renders staffrota.service with Restart=no", withInventoryOnly: true},
	{file: "playbook/restart_drill_attr_worker.hcl", at: "7:5", phrase: `An argument named "worker" is not expected in a restart_drill block. Did you mean "workers"?`},
	{file: "playbook/restart_drill_block_typo.hcl", at: "5:3", phrase: `There is no module kind "restart_dril". Did you mean "restart_drill"?`},
	{file: "playbook/restart_drill_unit_without_suffix.hcl", at: "6:12", phrase: `unit is a systemd service with its suffix, like unit = "staffrota.service".`},

	// Sensitive values where they are refused.
	{file: "playbook/sensitive_file_path.hcl", at: "11:5", phrase: "Sensitive value in path"},
	{file: "playbook/sensitive_command_run.hcl", at: "11:5", phrase: "Sensitive value in a command"},
	{file: "playbook/sensitive_command_environment.hcl", at: "12:5", phrase: "Sensitive value in a command"},
	{file: "playbook/sensitive_gunicorn_bind.hcl", at: "13:5", phrase: "Sensitive value in bind"},

	// Inventories.
	{file: "inventory/syntax_unclosed_group.hcl", at: "2:13", phrase: "Unclosed configuration block"},
	{file: "inventory/attr_adress.hcl", at: "4:5", phrase: `Did you mean "address"?`},
	{file: "inventory/ansible_become_password.ini", at: "9:1", phrase: "become_password_env"},
	{file: "inventory/ansible_connection_winrm.yml", at: "10:11", phrase: `not with "winrm"`},
	{file: "inventory/ansible_children_undeclared.ini", at: "7:1", phrase: `includes group "webs"`},
	{file: "inventory/attr_ansible_host.hcl", at: "4:5", phrase: `An argument named "ansible_host" is not expected here.`, errs: 2},
	{file: "inventory/block_hosts.hcl", at: "3:3", phrase: `Did you mean "host"?`},
	{file: "inventory/port_out_of_range.hcl", at: "5:15", phrase: "between 1 and 65535, not 70000"},
	{file: "inventory/address_empty.hcl", at: "4:15", phrase: "The address must not be empty"},
	{file: "inventory/address_with_port.hcl", at: "4:15", phrase: `write address = "127.0.0.1" and port = 2222.`},
	{file: "inventory/address_with_user.hcl", at: "4:15", phrase: `write address = "127.0.0.1" and user = "deploy".`},
	{file: "inventory/connect_timeout_negative.hcl", at: "3:21", phrase: "must not be negative"},
	{file: "inventory/command_timeout_duration.hcl", at: "3:21", phrase: `"command_timeout": a number is required`},
	{file: "inventory/keepalive_count_zero.hcl", at: "3:21", phrase: "from 1 to 100, not 0"},
	{file: "inventory/state_dir_relative.hcl", at: "3:15", phrase: "state_dir must be an absolute, clean path"},
	{file: "inventory/connection_paramiko.hcl", at: "3:16", phrase: `not "paramiko"`},
	{file: "inventory/become_password_env_password.hcl", at: "4:25", phrase: "Never write the password itself here."},
	{file: "inventory/become_password_env_password_word.hcl", at: "5:25", phrase: "Sudo password variable not set"},
	{file: "inventory/become_password_env_unset.hcl", at: "4:25", phrase: "TEND_CORPUS_UNSET_SUDO_PASSWORD, which is not set"},
	{file: "inventory/identity_file_missing.hcl", at: "3:19", phrase: "/nonexistent/tend-corpus/id_ed25519 does not exist"},
	{file: "inventory/identity_file_public_key.hcl", at: "4:19", phrase: "deploy_ed25519.pub is a public key, and the ssh-agent (SSH_AUTH_SOCK) does not hold its private key; identity_file names the private key"},
	{file: "inventory/children_unknown_group.hcl", at: "10:15", phrase: `lists child group "webservers", which is not declared`},
	{file: "inventory/members_unknown_host.hcl", at: "7:14", phrase: `Did you mean "web1"?`},
	{file: "inventory/duplicate_host.hcl", at: "10:3", phrase: `Host "web1" is declared twice`},
	{file: "inventory/group_cycle.hcl", at: "11:15", phrase: "web → prod → web"},
	{file: "inventory/user_sensitive.hcl", at: "3:10", phrase: "Sensitive value in user"},

	// Flags, variable files, TEND_VAR_.
	{file: "flags:var-undeclared", args: []string{"--var", "workerz=3"}, phrase: `--var workerz: the playbook declares no variable "workerz". Did you mean "workers"?`},
	{file: "flags:var-wrong-type", args: []string{"--var", "workers=four"}, phrase: `--var workers: the variable is a number, and "four" is not one.`},
	{file: "flags:var-without-value", args: []string{"--var", "workers"}, phrase: `--var "workers": want name=value`},
	{file: "flags:env-wrong-type", env: map[string]string{"TEND_VAR_workers": "four"}, phrase: `TEND_VAR_workers: the variable is a number, and "four" is not one.`},
	{file: "flags:limit-matches-nothing", args: []string{"--limit", "wbe"}, phrase: `Invalid --limit`},
	{file: "flags:limit-outside-the-plays", args: []string{"--limit", "db"}, phrase: "--limit db selects no host that a play of the playbook runs on"},
	{file: "flags:forks-zero", args: []string{"--forks", "0"}, phrase: "--forks must be at least 1, got 0"},
	{file: "flags:forks-word", args: []string{"--forks", "two"}, phrase: `invalid argument "two" for "-f, --forks" flag`},
	{file: "flags:unknown-flag", args: []string{"--inventroy", "x"}, phrase: "unknown flag: --inventroy"},
	{file: "flags:var-file-missing", args: []string{"--var-file", "testdata/broken/flags/missing.vars.hcl"}, phrase: "--var-file: cannot read testdata/broken/flags/missing.vars.hcl"},
	{file: "flags:var-file-wrong-type", in: "flags/wrong_type.vars.hcl", at: "3:11", args: []string{"--var-file", "testdata/broken/flags/wrong_type.vars.hcl"}, phrase: "the value does not match the type number"},
	{file: "flags:var-file-syntax", in: "flags/syntax_error.vars.hcl", at: "2:11", args: []string{"--var-file", "testdata/broken/flags/syntax_error.vars.hcl"}, phrase: "Invalid expression"},
	{file: "flags:var-file-unknown-function", in: "flags/unknown_function.vars.hcl", at: "2:11", args: []string{"--var-file", "testdata/broken/flags/unknown_function.vars.hcl"}, phrase: `There is no function named "nproc".`},
	{file: "flags:var-file-blocks", in: "flags/blocks.vars.hcl", at: "2:1", args: []string{"--var-file", "testdata/broken/flags/blocks.vars.hcl"}, phrase: `Unexpected "variable" block`},
	{file: "flags:inventory-missing", args: []string{"-i", "testdata/broken/no-such-inventory.hcl"}, phrase: "Cannot read inventory testdata/broken/no-such-inventory.hcl"},
	{file: "flags:playbook-missing", args: []string{"testdata/broken/no-such-playbook.hcl"}, phrase: "Cannot read testdata/broken/no-such-playbook.hcl"},
}

// TestBrokenInputCorpus runs every case of the corpus through validate and
// plan with -i, and the playbook cases through validate without -i too:
// each must exit 5 with its diagnostic at its file:line:col (flag mistakes:
// naming the flag) and make no connection, although tend could connect: it
// has a key, and the inventories' hosts are an SSH server that counts
// connections. Known gaps assert the current behaviour and are reported.
// The summary is logged (go test -v -run TestBrokenInputCorpus).
func TestBrokenInputCorpus(t *testing.T) {
	srv := sshtest.New(t, sshtest.Options{})
	t.Setenv("TEND_CORPUS_PORT", strconv.Itoa(srv.Port()))
	t.Setenv("NO_COLOR", "1")
	// A home of our own with a key in it, so that tend can log in if it
	// gets that far; no agent, no known_hosts.
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("SSH_AUTH_SOCK", "")
	_, priv, err := sshtest.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(home, ".ssh"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, ".ssh", "id_ed25519"), pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"TEND_CORPUS_UNSET_SUDO_PASSWORD", "TEND_VAR_workers"} {
		t.Setenv(name, "")
		os.Unsetenv(name)
	}

	checkCorpusFiles(t)

	site := filepath.Join(brokenDir, "site.hcl")
	fleet := filepath.Join(brokenDir, "fleet.hcl")

	// The counter counts: the valid pair does connect (and is refused
	// for its unknown host key).
	control := tend(t, "plan", site, "-i", fleet, "--no-color")
	control.want(t, ExitUnreachable)
	if !strings.Contains(control.stdout, "accept-new-host-keys") || srv.Stats().Connections == 0 {
		t.Fatalf("the valid playbook and inventory made no connection: the corpus could not tell\n%s", control.stdout)
	}

	type tally struct{ cases, withInv, withoutInv, exempt, gaps int }
	tallies := map[string]*tally{}
	var gaps []string
	for _, c := range brokenCorpus {
		k := c.kind()
		if tallies[k] == nil {
			tallies[k] = &tally{}
		}
		tl := tallies[k]
		tl.cases++
		if c.gap != "" {
			tl.gaps++
			gaps = append(gaps, fmt.Sprintf("%s: %s", c.file, c.gap))
		}
		t.Run(strings.NewReplacer("/", "_", ":", "_").Replace(strings.TrimSuffix(c.file, ".hcl")), func(t *testing.T) {
			for k, v := range c.env {
				t.Setenv(k, v)
			}
			var base []string
			switch c.kind() {
			case "playbook":
				base = []string{filepath.Join(brokenDir, c.file), "-i", fleet}
			case "inventory":
				base = []string{site, "-i", filepath.Join(brokenDir, c.file)}
			case "flags":
				base = []string{site, "-i", fleet}
			default:
				t.Fatalf("case %s: unknown kind", c.file)
			}
			base = append(base, c.args...)
			runs := [][]string{append([]string{"validate"}, base...), append([]string{"plan"}, base...)}
			if c.kind() == "playbook" && !c.withInventoryOnly {
				runs = append(runs, []string{"validate", filepath.Join(brokenDir, c.file)})
			}
			before := srv.Stats().Connections
			held := make([]bool, len(runs))
			for i, args := range runs {
				held[i] = c.check(t, i, args, tend(t, append(args, "--no-color")...))
			}
			switch n := srv.Stats().Connections - before; {
			case c.gapConnects && n == 0:
				t.Errorf("known gap (%s): plan made no connection; if the gap is fixed, update the case", c.gap)
			case !c.gapConnects && n != 0:
				t.Errorf("%d connections were made", n)
				return
			}
			if c.gap != "" {
				return
			}
			if held[0] && held[1] {
				tl.withInv++
			}
			switch {
			case len(runs) == 3 && held[2]:
				tl.withoutInv++
			case c.kind() == "playbook" && c.withInventoryOnly:
				tl.exempt++
			}
		})
	}

	var b strings.Builder
	var total tally
	kinds := make([]string, 0, len(tallies))
	for k := range tallies {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		tl := tallies[k]
		fmt.Fprintf(&b, "  %-9s %3d cases: %3d refused at their place with -i (validate, plan)", k, tl.cases, tl.withInv)
		if k == "playbook" {
			fmt.Fprintf(&b, ", %d also without -i (%d inventory-relative, exempt)", tl.withoutInv, tl.exempt)
		}
		fmt.Fprintf(&b, "; %d known gaps\n", tl.gaps)
		total.cases += tl.cases
		total.withInv += tl.withInv
		total.gaps += tl.gaps
	}
	fmt.Fprintf(&b, "  total     %3d cases: %3d refused with exit 5 at their place, no connection made; %d known gaps\n",
		total.cases, total.withInv, total.gaps)
	for _, g := range gaps {
		fmt.Fprintf(&b, "  known gap: %s\n", g)
	}
	t.Logf("broken-input corpus:\n%s", b.String())
}

// check asserts run i of a case (validate -i, plan -i, validate without
// -i) and reports whether it held.
func (c brokenCase) check(t *testing.T, i int, args []string, r cli) bool {
	t.Helper()
	fail := func(format string, a ...any) bool {
		t.Errorf("tend %s: %s\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), fmt.Sprintf(format, a...), r.stdout, r.stderr)
		return false
	}
	want := ExitInvalid
	if c.gap != "" {
		want = c.gapExits[i]
	}
	if r.code != want {
		if c.gap != "" {
			return fail("known gap (%s): exit %d, the corpus expects %d as before; if the gap is fixed, update the case", c.gap, r.code, want)
		}
		return fail("exit %d, want %d", r.code, want)
	}
	if c.gap != "" {
		t.Logf("known gap: %s\ntend %s: exit %d\nstdout:\n%s\nstderr:\n%s", c.gap, strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	if loc := c.location(); loc != "" && !strings.Contains(r.stderr, loc+": error: ") {
		return fail("no error at %s", loc)
	}
	if out := r.stderr; c.phrase != "" {
		if c.gap != "" {
			out += r.stdout // a gap not refused says what it says on stdout
		}
		if !strings.Contains(out, c.phrase) {
			return fail("the output lacks %q", c.phrase)
		}
	}
	if c.not != "" && strings.Contains(r.stderr, c.not) {
		return fail("stderr has the misleading %q", c.not)
	}
	if c.gap == "" && c.at != "" {
		want := max(c.errs, 1)
		if n := strings.Count(r.stderr, ": error: "); n != want {
			return fail("%d errors printed, want %d: each mistake once", n, want)
		}
	}
	if want == ExitInvalid && r.stdout != "" {
		return fail("refused input, yet something on stdout")
	}
	return true
}

// checkCorpusFiles: every case file exists, every file under
// testdata/broken/{playbook,inventory,flags} is used by a case, and each
// case file starts with a comment saying what is wrong.
func checkCorpusFiles(t *testing.T) {
	t.Helper()
	used := map[string]bool{}
	for _, c := range brokenCorpus {
		for _, f := range []string{c.file, c.in} {
			if f == "" || strings.HasPrefix(f, "flags:") {
				continue
			}
			if used[f] && f == c.file {
				t.Errorf("%s is used by two cases", f)
			}
			used[f] = true
		}
		if c.kind() != "flags" {
			src, err := os.ReadFile(filepath.Join(brokenDir, c.file))
			if err != nil {
				t.Errorf("case %s: %v", c.file, err)
			} else if !strings.HasPrefix(string(src), "# ") {
				t.Errorf("%s does not start with a comment saying what is wrong", c.file)
			}
		}
	}
	for _, dir := range []string{"playbook", "inventory", "flags"} {
		files, _ := filepath.Glob(filepath.Join(brokenDir, dir, "*.hcl"))
		ansible, _ := filepath.Glob(filepath.Join(brokenDir, dir, "ansible_*"))
		files = append(files, ansible...)
		tpls, _ := filepath.Glob(filepath.Join(brokenDir, dir, "templates", "*"))
		for _, f := range append(files, tpls...) {
			rel, _ := filepath.Rel(brokenDir, f)
			if !used[rel] {
				t.Errorf("%s is in the corpus directory but no case uses it", rel)
			}
		}
	}
}
