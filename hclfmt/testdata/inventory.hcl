defaults {
 user = "deploy"
   known_hosts_file="~/.ssh/known_hosts"
}
group "web" {
vars = { workers = 2, name = "x" }
  host "web1" { address = "10.0.0.1" }
}
