# SSH hardening of a Debian or Ubuntu fleet: the everyday kit, each step
# with a real diff in `tend plan` and nothing done twice.
#
#   tend plan  examples/ssh-hardening/harden.hcl -i examples/ssh-hardening/inventory.hcl
#   tend apply examples/ssh-hardening/harden.hcl -i examples/ssh-hardening/inventory.hcl
#
# 1. the packages (openssh-server, and what var.packages adds);
# 2. sshd settings in a drop-in of sshd_config, checked by sshd itself
#    before it replaces anything, and sshd reloaded only when it changed;
# 3. password ageing in /etc/login.defs, one line each, commented lines
#    left alone (Ansible's lineinfile semantics);
# 4. the CI system's key for deploy, restricted, without owning the file;
# 5. kernel network settings, live and persistent.

variable "packages" {
  description = "Packages every host has (installed when missing)."
  type        = list(string)
  default     = ["openssh-server"]
}

variable "ci_key" {
  description = "The CI system's public key, allowed to log in as deploy."
  default     = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGiWocOZ7jCxLCT0lJBXOWRx2ykAwT4bUFaIGVGCYiBx ci@example"
}

variable "ci_from" {
  description = "Where the CI system connects from."
  default     = "10.0.0.0/8"
}

play "ssh-hardening" {
  hosts = ["all"]

  package "packages" {
    for_each = toset(var.packages)
    package  = each.key
    when     = contains(["debian", "ubuntu"], host.facts.os_id)
  }

  # sshd reads the drop-ins first, and the first value of a setting wins.
  file "/etc/ssh/sshd_config.d/50-tend-hardening.conf" {
    content  = <<-EOT
      # Managed by tend (examples/ssh-hardening).
      PermitRootLogin prohibit-password
      PasswordAuthentication no
      KbdInteractiveAuthentication no
      X11Forwarding no
      MaxAuthTries 3
      LoginGraceTime 30
      ClientAliveInterval 300
      ClientAliveCountMax 2
      EOT
    mode     = "0644"
    validate = "/usr/sbin/sshd -t -f %s"
    notify   = ["reload sshd"]
  }

  line_in_file "login.defs" {
    for_each = { PASS_MAX_DAYS = 90, PASS_MIN_DAYS = 1, PASS_WARN_AGE = 14 }
    path     = "/etc/login.defs"
    regexp   = "^${each.key}\\s"
    line     = "${each.key}\t${each.value}"
  }

  authorized_key "deploy-ci" {
    user    = "deploy"
    key     = var.ci_key
    options = "from=\"${var.ci_from}\",no-agent-forwarding,no-port-forwarding,no-X11-forwarding,no-pty"
  }

  sysctl "network" {
    for_each = {
      "net.ipv4.conf.all.rp_filter"        = "1"
      "net.ipv4.conf.all.accept_redirects" = "0"
      "net.ipv4.conf.all.send_redirects"   = "0"
    }
    key   = each.key
    value = each.value
    file  = "/etc/sysctl.d/90-tend-hardening.conf"
  }

  handler "reload sshd" {
    service "ssh" { state = "reloaded" }
  }
}
