package proc

import "os"

// maxRSS is unknown on Windows: the wait's rusage holds times only.
func maxRSS(*os.ProcessState) int64 { return 0 }
