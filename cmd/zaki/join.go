package main

// joinOr is the control plane to dial: the --join address when given (the
// member joins through it and keeps it), else --controlplane.
func joinOr(join, controlPlane string) string {
	if join != "" {
		return join
	}
	return controlPlane
}
