# Example inventory for the staff rota hardening playbook (harden.hcl).
#
# It names the production host from the outage report as an illustration
# only: tend's tests parse this file, none ever connects to it. Copy it and
# put your own hosts in.

defaults {
  user = "deploy"
  port = 22
  # Without identity_file, tend uses ssh-agent, then ~/.ssh/id_ed25519,
  # id_ecdsa, id_rsa. A file named here must exist: validate, plan and apply
  # refuse a missing one before connecting.
  # identity_file = "~/.ssh/id_deploy"
  become = true
  # If the deploy user's sudo needs a password, name the environment
  # variable that holds it (never the password itself):
  # become_password_env = "TEND_SUDO_PASSWORD"
  connect_timeout = 10
  command_timeout = 300
}

group "web" {
  # Recommendation #3 of the report: two gunicorn workers, so one crashing
  # worker no longer takes the whole site down.
  vars = { workers = 2 }

  host "therota-prod" {
    address = "159.65.18.80" # demo.therota.co.uk
  }
}
