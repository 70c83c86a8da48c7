# A valid inventory: the playbook and flag cases are checked against it. Its hosts are the test's
# in-process SSH server (TEND_CORPUS_PORT), which counts the connections made: there must be none.
group "web" {
  vars = { workers = 2 }
  host "web1" {
    address = "127.0.0.1"
    port    = env("TEND_CORPUS_PORT", "22")
  }
}

group "db" {
  host "db1" {
    address = "127.0.0.1"
    port    = env("TEND_CORPUS_PORT", "22")
  }
}
