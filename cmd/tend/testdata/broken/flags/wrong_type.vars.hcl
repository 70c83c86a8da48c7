# A var file whose value for the number variable "workers" is a word.
app_dir = "/srv/staffrota"
workers = "four"
