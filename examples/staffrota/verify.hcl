# verify.hcl — the outage report's verification list, as code.
#
# The report ends with checks made by hand on one server: auto-restart
# confirmed, "ps aux | grep gunicorn shows 3 processes (1 master + 2
# workers)", / -> 200, /health/ -> 200 with {"status": "ok"}, /dashboard/ ->
# 302 (to the login page). harden.hcl already checks /health/ (its
# health_check "staffrota"); this play adds the rest. It uses harden.hcl's
# variables, so give both files:
#
#   tend check examples/staffrota/harden.hcl examples/staffrota/verify.hcl -i inventory.hcl
#
# tend check runs every health_check once on every host, reads the state of
# staffrota.service (active? crash-looping? restarted since the last check?)
# and exits 0 (OK), 1 (WARNING) or 2 (CRITICAL), as a Nagios plugin.

play "verify-staffrota" {
  hosts = ["web"]

  # Homepage: https://demo.therota.co.uk/ -> HTTP 200.
  health_check "home" {
    unix_socket   = "${var.app_dir}/staffrota.sock"
    path          = "/"
    expect_status = 200
    expect_body   = "Staff rota"
  }

  # The health endpoint, with the database check of its JSON answer.
  health_check "database" {
    unix_socket   = "${var.app_dir}/staffrota.sock"
    path          = "/health/"
    expect_status = 200
    expect_json   = { status = "ok", checks = { database = "ok" } }
  }

  # Protected pages: /dashboard/ -> HTTP 302 to the login page; the redirect
  # is checked as such, never followed.
  health_check "dashboard" {
    unix_socket     = "${var.app_dir}/staffrota.sock"
    path            = "/dashboard/"
    expect_status   = 302
    expect_location = "/login/?next=/dashboard/"
  }

  # 1 master + the workers: the processes in the unit's control group.
  health_check "workers" {
    unit             = "staffrota.service"
    expect_processes = 1 + host.vars.workers
  }
}
