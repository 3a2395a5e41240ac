//! HL7 v2: lenient parser, MLLP framing, acknowledgements, and v2-to-FHIR R4 maps.
