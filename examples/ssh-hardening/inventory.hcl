# Example inventory for examples/ssh-hardening and examples/vendor-unit-dropin.
# tend's tests parse this file; none ever connects to it. Put your hosts in.

defaults {
  user            = "deploy"
  become          = true
  connect_timeout = 10
}

group "all_servers" {
  host "web-1" { address = "192.0.2.10" }
  host "web-2" { address = "192.0.2.11" }
}
