host "app1" {
  address            = "198.51.100.7"
  user               = "ops"
  port               = 2200
  identity_file      = "/etc/tend/id_app"
  known_hosts_file   = "/etc/tend/known_hosts"
  become             = true
  connect_timeout    = 7
  keepalive_interval = 10
  keepalive_count    = 4
  jump               = ["admin@bastion.example.com:2222"]
}
host "app2" {
  address            = "198.51.100.8"
  identity_file      = "/etc/tend/id_app"
  known_hosts_file   = "/etc/tend/known_hosts"
  become             = true
  become_user        = "postgres"
  connect_timeout    = 15
  keepalive_interval = 10
  keepalive_count    = 4
  jump               = ["admin@bastion.example.com:2222"]
}
host "localhost" {
  connection = "local"
}

group "app" {
  members = ["app1", "app2"]
}

group "control" {
  members = ["localhost"]
}
