# A drop-in for a unit tend does not own: Debian's ssh.service comes with
# the package, and a drop-in changes it without replacing the vendor's file
# (an upgrade of openssh-server keeps it).
#
#   tend plan examples/vendor-unit-dropin/dropin.hcl -i examples/ssh-hardening/inventory.hcl
#
# The .d directory is made when missing; the drop-in is checked with its
# unit (systemd-analyze verify) before it replaces anything; systemd is
# reloaded and ssh restarted only when the drop-in changed, and only if ssh
# runs. Restarting sshd leaves the sessions it serves alone (its unit's
# KillMode=process), this one included.

play "vendor-unit-dropin" {
  hosts = ["all"]

  systemd_dropin "ssh" {
    dropin = "10-restart"
    service {
      Restart    = "always"
      RestartSec = "5s"
    }
    # The seed report's start limits can leave a unit failed for good (see
    # "The start-limit trap" in the README): never give up restarting sshd.
    unit {
      StartLimitIntervalSec = "0"
    }
  }
}
