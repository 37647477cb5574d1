using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Net;
using System.Net.Http;
using System.Threading;
using System.Threading.Tasks;

namespace MoeLayers.Samples.Tests
{
    /// <summary>Answers every request from a function of its URL and records the URLs; never touches the network.</summary>
    internal sealed class FakeHttpHandler : HttpMessageHandler
    {
        private readonly Func<Uri, HttpResponseMessage> _respond;
        private readonly ConcurrentQueue<Uri> _requests = new();

        public FakeHttpHandler(Func<Uri, HttpResponseMessage> respond) => _respond = respond;

        public IReadOnlyCollection<Uri> Requests => _requests;

        public static HttpResponseMessage Bytes(byte[] body) => new(HttpStatusCode.OK) { Content = new ByteArrayContent(body) };

        public static HttpResponseMessage Status(HttpStatusCode code) => new(code) { Content = new ByteArrayContent(Array.Empty<byte>()) };

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            _requests.Enqueue(request.RequestUri!);
            return Task.FromResult(_respond(request.RequestUri!));
        }
    }
}
