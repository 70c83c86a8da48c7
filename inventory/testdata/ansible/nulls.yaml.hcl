host "lonely" {
}
host "web1" {
}
host "db1" {
}
host "db2" {
  vars = {
    replica = true
  }
}

group "ungrouped" {
  members = ["lonely"]
}

group "empty_group" {
}

group "web" {
  members = ["web1"]
}

group "db" {
  members  = ["db1"]
  children = ["db_replicas"]
  vars = {
    nothing   = null
    port_list = [5432, 5433]
    quoted_no = "no"
    ratio     = 0.5
    replica   = false
    settings = {
      max_connections = 100
      ssl             = true
    }
    version = "15"
  }
}

group "db_replicas" {
  members = ["db2"]
}
