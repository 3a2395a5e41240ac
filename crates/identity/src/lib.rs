//! Patient identity: NHS numbers, Fellegi-Sunter matching with explanations, persons and links.
