package app.vouch.sample

import com.google.zxing.BarcodeFormat
import com.google.zxing.BinaryBitmap
import com.google.zxing.DecodeHintType
import com.google.zxing.NotFoundException
import com.google.zxing.ChecksumException
import com.google.zxing.FormatException
import com.google.zxing.PlanarYUVLuminanceSource
import com.google.zxing.common.HybridBinarizer
import com.google.zxing.qrcode.QRCodeReader

/**
 * Reads a QR code out of one camera frame's luminance (the Y plane of CameraX's
 * `YUV_420_888` analysis images: one byte per pixel, rows `rowStride` bytes apart). Plain
 * Kotlin over ZXing's decoder, so it is tested on the JVM (`QrFramesTest`); the camera side
 * is [QrScanner]. What the text means is the core's to judge (`approveScanned` refuses
 * anything but this request's QR), never this decoder's.
 */
object QrFrames {
    private val hints = mapOf(
        DecodeHintType.POSSIBLE_FORMATS to listOf(BarcodeFormat.QR_CODE),
        DecodeHintType.TRY_HARDER to true,
    )

    /** The QR code's text in the frame, or `null` when there is none (or it does not read). */
    fun decode(luma: ByteArray, width: Int, height: Int, rowStride: Int): String? {
        require(width > 0 && height > 0 && rowStride >= width) { "bad frame geometry" }
        // The last row of a camera plane may stop at `width`: pad to whole rows.
        val rows = if (luma.size >= rowStride * height) luma else luma.copyOf(rowStride * height)
        val source = PlanarYUVLuminanceSource(rows, rowStride, height, 0, 0, width, height, false)
        return try {
            QRCodeReader().decode(BinaryBitmap(HybridBinarizer(source)), hints).text
        } catch (_: NotFoundException) {
            null
        } catch (_: ChecksumException) {
            null
        } catch (_: FormatException) {
            null
        }
    }
}
