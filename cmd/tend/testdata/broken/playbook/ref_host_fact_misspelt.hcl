# host.facts.os: the fact is os_id (os-release's ID), as `when` would use it.
play "site" {
  hosts = ["web"]

  file "/etc/motd" {
    content = "debian only\n"
    when    = host.facts.os == "debian"
  }
}
