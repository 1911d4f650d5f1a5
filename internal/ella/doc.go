// Package ella is the vocabulary of deploying a new ELLA release (the "Deploying a new
// version" procedure of the ELLA core production routine): the deploy input and its checks,
// the broadcast messages shown to users, the ella-cli command lines, the testers' acceptance
// decision and the change record ("Endringskontroll") produced from a run. Pure logic, no I/O.
package ella
