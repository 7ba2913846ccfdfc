package media

import "math"

// ToneLevel returns the amplitude of the hz component of samples taken at
// rate Hz, measured with the Goertzel algorithm: about A for a sine of
// peak amplitude A at hz, near 0 for silence or other frequencies. It is
// exact when samples hold a whole number of periods (160 samples at 8000 Hz
// for multiples of 50 Hz); a test compares it at the tone's frequency and
// at another one.
func ToneLevel(samples []int16, hz float64, rate int) float64 {
	if len(samples) == 0 || rate <= 0 {
		return 0
	}
	c := 2 * math.Cos(2*math.Pi*hz/float64(rate))
	var s1, s2 float64
	for _, x := range samples {
		s1, s2 = float64(x)+c*s1-s2, s1
	}
	power := s1*s1 + s2*s2 - c*s1*s2
	return 2 * math.Sqrt(max(power, 0)) / float64(len(samples))
}
