# harden.hcl — the staff rota outage hardening, as a tend playbook.
#
# Background: after a 22-hour outage of the staff rota Django app (gunicorn
# behind nginx, systemd unit staffrota.service), an engineer applied four
# "hardening recommendations" by hand on the production server and wrote a
# report. This playbook declares the same end state, so it can be planned,
# reviewed, applied, re-applied (the second run changes nothing) and rolled
# out to any further host in the "web" group:
#
#   tend plan  -i examples/staffrota/inventory.hcl examples/staffrota/harden.hcl
#   tend apply -i examples/staffrota/inventory.hcl examples/staffrota/harden.hcl
#
# How each recommendation of the report maps onto this playbook:
#
# 1. Auto-restart (report: Restart=always, RestartSec=10,
#    StartLimitInterval=60, StartLimitBurst=3 in [Service]).
#    -> gunicorn_service: restart, restart_sec, start_limit_interval,
#    start_limit_burst. The report put all four lines in [Service]; on
#    current systemd the rate limit belongs in [Unit], as
#    StartLimitIntervalSec= and StartLimitBurst= (the [Service] spellings
#    are only a deprecated alias), and that is where the module writes them.
#    Note the trap in the numbers themselves: with RestartSec=10 up to six
#    starts fit into 60 s, more than the burst of 3, so a service that keeps
#    crashing hits the limit after about 30 s and then stays *permanently
#    failed* (no more restarts until someone runs systemctl reset-failed):
#    the "self-healing" gives up quickly. tend validate/plan warn about such
#    numbers ("A crash loop will leave the service failed for good"). This
#    playbook therefore keeps the report's Restart=always and RestartSec=10
#    (a crashed service is back within ~10 s, and never restarted faster than
#    that) but sets start_limit_interval = 0: systemd never gives up. An
#    external monitor watching /health/ (step 4) catches a crash loop.
#    (To keep a start limit without the trap, make restart_sec *
#    start_limit_burst exceed start_limit_interval, e.g. restart_sec = 30
#    with the report's 60 s / 3.)

# 2. Worker timeout 30 s -> 60 s (report: --timeout 60 in ExecStart).
#    -> gunicorn_service: timeout = 60.
#
# 3. One worker -> two (report: --workers 2).
#    -> gunicorn_service: workers = host.vars.workers, set per host or group
#    in the inventory (2 for group "web"), so bigger hosts can run more.
#
#    Steps 1-3 are one unit file, /etc/systemd/system/staffrota.service.
#    tend writes it atomically, runs systemctl daemon-reload and restarts
#    the service only when the file actually changed, and leaves a running,
#    correctly configured service alone.
#
# 4. Monitoring (report: a /health/ endpoint returning
#    {"status": "ok", ...} with HTTP 200, 503 when the database is down).
#    -> health_check: after the service is (re)started, tend asks the app
#    itself, over gunicorn's unix socket on the host, for /health/ and
#    requires HTTP 200 with "status": "ok", retrying while gunicorn boots.
#    A failing check fails the host in tend's report. It does not replace an
#    external monitor (UptimeRobot and friends, as the report suggests);
#    it makes sure a change never leaves the site silently broken.
#    The /health/ view itself is application code (scheduling/views.py) and
#    is deployed with the app, not by this playbook.
#
# Variables: --var app_dir=/srv/rota points the unit at another checkout;
# --var health_retries=N changes how long the health check waits;
# --var settle=5s watches the restarted service longer.

variable "health_retries" {
  type        = number
  default     = 10
  description = "Attempts of the health check (one second apart) before the host fails."
}

variable "settle" {
  type        = string
  default     = "2s"
  description = "How long the service must stay up after tend restarts it (a crash loop fails the host); \"0s\" leaves it to the health check."
}

variable "app_dir" {
  type        = string
  default     = "/home/staff-rota-system"
  description = "Directory of the Django project, holding venv/ and the gunicorn socket."
}

play "harden-staffrota" {
  hosts = ["web"]

  # Recommendations 1, 2 and 3: the systemd unit running gunicorn.
  gunicorn_service "staffrota" {
    description = "Staff rota (gunicorn)"
    user        = "staffrota"
    group       = "staffrota"
    directory   = var.app_dir
    gunicorn    = "${var.app_dir}/venv/bin/gunicorn"
    app         = "rotasystems.wsgi:application"
    bind        = "unix:${var.app_dir}/staffrota.sock"
    workers     = host.vars.workers
    timeout     = 60
    restart     = "always"
    restart_sec = 10
    # The report's StartLimitInterval=60 / StartLimitBurst=3 would leave the
    # unit failed for good after four quick crashes; see the header.
    start_limit_interval = 0
    settle               = var.settle
  }

  # Recommendation 4: the app answers /health/ with {"status": "ok"}.
  health_check "staffrota" {
    unix_socket   = "${var.app_dir}/staffrota.sock"
    path          = "/health/"
    expect_status = 200
    expect_json   = { status = "ok" }
    retries       = var.health_retries
    delay         = "1s"
  }
}
