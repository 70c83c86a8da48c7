# A var file written as variable blocks (a playbook's declarations), not name = value lines.
variable "workers" {
  default = 4
}
