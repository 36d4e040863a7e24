import AVFoundation
import SwiftUI
import UIKit

/// The approver's camera for approve-by-QR (Trust v2: apps scan with their own camera only,
/// no paste, no links): an `AVCaptureSession` with an `AVCaptureMetadataOutput` for `.qr`,
/// delivering the first code it reads once. The text goes to `approveScanned`, which checks
/// it belongs to the open request (`.InvalidQrCode` otherwise).
struct QRScannerView: UIViewControllerRepresentable {
    let onScan: @MainActor (String) -> Void
    let onFailure: @MainActor (String) -> Void

    func makeUIViewController(context: Context) -> QRScannerController {
        QRScannerController(onScan: onScan, onFailure: onFailure)
    }

    func updateUIViewController(_ controller: QRScannerController, context: Context) {}
}

final class QRScannerController: UIViewController, AVCaptureMetadataOutputObjectsDelegate {
    private let onScan: @MainActor (String) -> Void
    private let onFailure: @MainActor (String) -> Void
    /// Started and stopped on `sessionQueue` (startRunning blocks), configured on main.
    private nonisolated(unsafe) let session = AVCaptureSession()
    private let sessionQueue = DispatchQueue(label: "app.vouch.sample.qr")
    private var preview: AVCaptureVideoPreviewLayer?
    private var delivered = false

    init(onScan: @escaping @MainActor (String) -> Void, onFailure: @escaping @MainActor (String) -> Void) {
        self.onScan = onScan
        self.onFailure = onFailure
        super.init(nibName: nil, bundle: nil)
    }

    @available(*, unavailable)
    required init?(coder: NSCoder) { fatalError("init(coder:) is not used") }

    override func viewDidLoad() {
        super.viewDidLoad()
        view.backgroundColor = .black
        switch AVCaptureDevice.authorizationStatus(for: .video) {
        case .authorized:
            configure()
        case .notDetermined:
            AVCaptureDevice.requestAccess(for: .video) { granted in
                Task { @MainActor [weak self] in
                    guard let self else { return }
                    if granted { self.configure() } else { self.onFailure("Camera access is off. Type the code instead, or allow the camera in Settings.") }
                }
            }
        default:
            onFailure("Camera access is off. Type the code instead, or allow the camera in Settings.")
        }
    }

    private func configure() {
        guard let camera = AVCaptureDevice.default(for: .video) else {
            onFailure("This device has no camera. Type the code instead.")
            return
        }
        let input: AVCaptureDeviceInput
        do {
            input = try AVCaptureDeviceInput(device: camera)
        } catch {
            onFailure("The camera could not be used: \(error.localizedDescription)")
            return
        }
        let output = AVCaptureMetadataOutput()
        session.beginConfiguration()
        guard session.canAddInput(input), session.canAddOutput(output) else {
            session.commitConfiguration()
            onFailure("The camera could not be used. Type the code instead.")
            return
        }
        session.addInput(input)
        session.addOutput(output)
        // The types can be set only once the output is in the session.
        output.setMetadataObjectsDelegate(self, queue: .main)
        output.metadataObjectTypes = [.qr]
        session.commitConfiguration()
        let layer = AVCaptureVideoPreviewLayer(session: session)
        layer.videoGravity = .resizeAspectFill
        layer.frame = view.layer.bounds
        view.layer.addSublayer(layer)
        preview = layer
        sessionQueue.async { [session] in session.startRunning() }
    }

    override func viewDidLayoutSubviews() {
        super.viewDidLayoutSubviews()
        preview?.frame = view.layer.bounds
    }

    override func viewWillDisappear(_ animated: Bool) {
        super.viewWillDisappear(animated)
        sessionQueue.async { [session] in if session.isRunning { session.stopRunning() } }
    }

    nonisolated func metadataOutput(_ output: AVCaptureMetadataOutput, didOutput metadataObjects: [AVMetadataObject], from connection: AVCaptureConnection) {
        let texts = metadataObjects.compactMap { ($0 as? AVMetadataMachineReadableCodeObject)?.stringValue }
        guard let text = texts.first else { return }
        Task { @MainActor [weak self] in self?.deliver(text) }
    }

    private func deliver(_ text: String) {
        guard !delivered else { return }
        delivered = true
        sessionQueue.async { [session] in session.stopRunning() }
        onScan(text)
    }
}
