//! The `otpauth://` URI of a virtual MFA device and its QR code as a PNG, which
//! `CreateVirtualMFADevice` returns as `QRCodePNG` so that an authenticator app can scan it.
//!
//! The URI follows the Key Uri Format that authenticator apps accept
//! (`otpauth://totp/ISSUER:LABEL?secret=BASE32&issuer=ISSUER`), as AWS's does with the label
//! `DEVICE@ACCOUNT`. The PNG is 8-bit greyscale, 8 pixels per module, with the 4-module quiet
//! zone the QR standard asks for.

use keystead_types::AccountId;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use qrcode::{Color, EcLevel, QrCode};
use zeroize::Zeroizing;

use crate::Error;

/// The issuer shown by authenticator apps.
pub const OTPAUTH_ISSUER: &str = "keystead";
/// Pixels per QR module.
const SCALE: usize = 8;
/// Modules of white border around the code.
const QUIET_ZONE: usize = 4;
/// Everything but unreserved characters is escaped in the label and issuer.
const ESCAPE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The device's `otpauth://totp/...` URI; it holds the seed, so it is zeroized when dropped.
pub fn otpauth_uri(device_name: &str, account: &AccountId, base32_seed: &str) -> Zeroizing<String> {
    let issuer = utf8_percent_encode(OTPAUTH_ISSUER, ESCAPE);
    let label = utf8_percent_encode(device_name, ESCAPE);
    Zeroizing::new(format!(
        "otpauth://totp/{issuer}:{label}@{account}?secret={base32_seed}&issuer={issuer}"
    ))
}

/// A PNG image of the QR code of `text` (error correction level M).
pub fn qr_code_png(text: &str) -> Result<Zeroizing<Vec<u8>>, Error> {
    let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M)
        .map_err(|e| Error::Corrupt(format!("cannot encode the MFA QR code: {e}")))?;
    let modules = code.width();
    let colors = code.to_colors();
    let side = (modules + 2 * QUIET_ZONE) * SCALE;
    let mut pixels = Zeroizing::new(vec![0xFF_u8; side * side]);
    for (i, color) in colors.iter().enumerate() {
        if *color != Color::Dark {
            continue;
        }
        let (mx, my) = (i % modules + QUIET_ZONE, i / modules + QUIET_ZONE);
        for y in my * SCALE..(my + 1) * SCALE {
            pixels[y * side + mx * SCALE..y * side + (mx + 1) * SCALE].fill(0);
        }
    }
    let side_u32 = u32::try_from(side).map_err(|_| Error::Corrupt("QR code too large".into()))?;
    let mut png_bytes = Zeroizing::new(Vec::new());
    {
        let mut encoder = png::Encoder::new(&mut *png_bytes, side_u32, side_u32);
        encoder.set_color(png::ColorType::Grayscale);
        encoder.set_depth(png::BitDepth::Eight);
        let png_error = |e: png::EncodingError| Error::Corrupt(format!("cannot write PNG: {e}"));
        let mut writer = encoder.write_header().map_err(png_error)?;
        writer.write_image_data(&pixels).map_err(png_error)?;
        writer.finish().map_err(png_error)?;
    }
    Ok(png_bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(png_bytes: &[u8]) -> String {
        let decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
        let mut reader = decoder.read_info().expect("png header");
        let mut buf = vec![0; reader.output_buffer_size().expect("size")];
        let info = reader.next_frame(&mut buf).expect("png frame");
        assert_eq!(info.color_type, png::ColorType::Grayscale);
        let (w, h) = (info.width as usize, info.height as usize);
        let mut image = rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| buf[y * w + x]);
        let grids = image.detect_grids();
        assert_eq!(grids.len(), 1, "one QR code in the image");
        let (_, content) = grids[0].decode().expect("the QR code decodes");
        content
    }

    #[test]
    fn the_uri_names_issuer_device_and_account_and_carries_the_seed() {
        let account: AccountId = "111122223333".parse().expect("account");
        let uri = otpauth_uri("alice phone", &account, "JBSWY3DPEHPK3PXP");
        assert_eq!(
            uri.as_str(),
            "otpauth://totp/keystead:alice%20phone@111122223333?secret=JBSWY3DPEHPK3PXP&issuer=keystead"
        );
    }

    #[test]
    fn the_png_is_a_qr_code_that_scans_back_to_the_uri() {
        let account: AccountId = "111122223333".parse().expect("account");
        let uri = otpauth_uri("dev-1", &account, "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
        let png_bytes = qr_code_png(&uri).expect("png");
        assert_eq!(&png_bytes[..8], b"\x89PNG\r\n\x1a\n");
        assert_eq!(decode(&png_bytes), uri.as_str());
    }
}
